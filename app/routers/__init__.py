"""HTTP only: parse, authorise, call a service, shape the response."""

"""Communities over HTTP, by sub-domain: ``organisations`` (and their statistics),
``products`` (labelled products and till purchases), ``donations`` (public-good projects)."""

"""Trust: verified-reduction batches (serial-numbered tonnes, issued, retired or transferred
once) and recompute audits (every credited record re-run through its stored methodology
version). The ledger's own tamper evidence is in ``app.services.ledger.proofs``."""

"""Communities and what citizens do together: organisations and their statistics, labelled
products bought at a till with a member code, and donations to public-good projects."""

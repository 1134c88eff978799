"""Reading incident files into normalised records and rejects."""

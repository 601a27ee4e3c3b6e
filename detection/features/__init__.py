"""Feature engineering: one spec (spec.py), a batch path (batch.py) and a real-time path
(history.py in memory, realtime.py from the database) that agree to 1e-9."""

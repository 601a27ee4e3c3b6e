"""Scoring: models + rules -> risk score, outcome and explanation."""

"""Stage 5, detect: anomaly models over prepared features.

Contract shared by every detector here: `anomaly_score` is relative, higher means more
anomalous; a model also carries a threshold chosen without labels, so it can flag.
"""

"""Stage 8, alert: turn anomalies and SLO states into alerts, keep them, deliver them."""

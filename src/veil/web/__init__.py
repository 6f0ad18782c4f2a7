"""The dashboard: server-rendered pages over the same sessions as the API."""

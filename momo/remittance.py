"""MoMo Remittances: money out of the API user's remittance account."""

ROUTES: list = []

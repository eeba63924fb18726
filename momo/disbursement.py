"""MoMo Disbursements: money out of the API user's disbursement account."""

ROUTES: list = []

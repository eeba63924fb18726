"""The REST API (`/api/payments/`): DRF views and serializers over the payment services."""

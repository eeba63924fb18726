"""The customer's pages: the checkout form and the payment page (its pushed status is `regions.checkout_status`)."""

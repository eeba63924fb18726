"""The pushed regions: one module each, owning its partial, its context and its snapshot read.

Both sides of a page import the same module: the HTTP view (`checkout/views.py`,
`dashboard/views.py`) renders the region into the page, the WebSocket consumer
(`consumers/`) renders it from a pushed snapshot. So views and consumers never import
each other, and a region renders one way. Regions depend on the domain (`payments`) only.
"""

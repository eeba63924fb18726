"""The MTN MoMo wire API served at the server root (MOMO.md): it depends on the domain, never the other way."""

"""A local stand-in for the venues: a synthetic market spoken in each venue's protocol."""

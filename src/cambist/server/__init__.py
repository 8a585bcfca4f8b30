"""``cambist serve`` wiring, its configuration and the load generator."""

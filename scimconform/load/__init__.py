"""Load replay: an identity provider's provisioning cycles for many users, measured (`scimconform load`, and a
Locust user)."""

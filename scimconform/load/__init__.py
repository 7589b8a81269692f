"""Load replay: Entra's provisioning cycles for many users, measured (`scimconform load`, and a Locust user)."""

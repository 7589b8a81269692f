"""Real provisioning traffic: record it through a reverse proxy (`record`), turn it into a case file and a list
of what the bundled cases never send, and replay a recording against another endpoint (`replay`)."""

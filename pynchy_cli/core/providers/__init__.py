"""Model cores on the host: they hold the credentials and speak to the providers."""

"""Agent cores: the host-side component that answers a run's model calls for one provider
(vendor API), holding the credentials."""

"""Helpers shared by the deploys: data defaults, custom operations, builds, secrets, report."""

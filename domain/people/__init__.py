"""Who is who: people and their roles, the region tree, scopes, invitations, the audit."""

"""关爱: pairings, check-ins and their photos, concerns, emergencies, a child's card,
the duty rota."""

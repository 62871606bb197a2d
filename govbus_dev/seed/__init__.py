"""Demo data for a new user: a living catalogue, departments, and demo licences."""

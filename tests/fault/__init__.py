"""The seeded randomized fault suite (issue 8): see harness.py."""

"""Settings for the whole suite."""

from hypothesis import settings

# Hypothesis' default 200 ms deadline per example is a timing threshold: on a shared 2-core machine running
# the integration stack it fails examples that are merely slow. Correctness is what the properties check.
settings.register_profile("neon-cm", deadline=None)
settings.load_profile("neon-cm")

# scenarios/scenarios.mk — fragment of Makefile.am (see the top-level file).

# reports/reports.mk — fragment of Makefile.am (see the top-level file).

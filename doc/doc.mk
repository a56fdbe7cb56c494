# doc/doc.mk — fragment of Makefile.am (see the top-level file).
# Manual pages (one per verb) and the bash completion, installed by
# `make install`; the completion asks the installed binary for its verbs
# (`parasim list verbs`).
dist_man_MANS += doc/parasim.1 \
	doc/parasim-check.1 doc/parasim-simulate.1 doc/parasim-plan.1 \
	doc/parasim-profile.1 doc/parasim-train.1 doc/parasim-validate.1 \
	doc/parasim-report.1 doc/parasim-export.1 doc/parasim-list.1

bashcompletiondir = $(datadir)/bash-completion/completions
EXTRA_DIST += doc/parasim.bash-completion

# Installed under the command's name, as bash-completion looks it up.
install-data-local: install-bash-completion
uninstall-local: uninstall-bash-completion
install-bash-completion:
	$(MKDIR_P) '$(DESTDIR)$(bashcompletiondir)'
	$(INSTALL_DATA) '$(srcdir)/doc/parasim.bash-completion' '$(DESTDIR)$(bashcompletiondir)/parasim'
uninstall-bash-completion:
	rm -f '$(DESTDIR)$(bashcompletiondir)/parasim'
.PHONY: install-bash-completion uninstall-bash-completion

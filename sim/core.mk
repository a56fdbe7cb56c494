# sim/core.mk — error codes, the command layer (verb table and verbs).
libparasim_a_SOURCES += sim/status.c sim/status.h sim/cli.c sim/cli.h \
	sim/cmd-check.c sim/cmd-simulate.c sim/cmd-plan.c sim/cmd-profile.c \
	sim/cmd-train.c sim/cmd-validate.c sim/cmd-report.c sim/cmd-export.c \
	sim/cmd-list.c
noinst_HEADERS += tests/testutil.h sim/units.h sim/scenario.h sim/graph.h sim/trace.h sim/store.h sim/net.h sim/des.h \
	kernels/ops.h kernels/costmodel.h

# scenarios/scenarios.mk — fragment of Makefile.am (see the top-level file).
# Preset models, devices and clusters and the ready scenarios, installed
# under $(pkgdatadir)/scenarios/{models,hardware,clusters}/ and
# $(pkgdatadir)/scenarios/*.yaml (nobase_ keeps the scenarios/ prefix, which
# is what PS_INSTALL_DATADIR = $(pkgdatadir)/scenarios expects).
nobase_dist_pkgdata_DATA += \
	scenarios/models/gpt2-124m.yaml \
	scenarios/models/gpt2-355m.yaml \
	scenarios/models/gpt2-774m.yaml \
	scenarios/models/gpt2-1.5b.yaml \
	scenarios/models/gpt3-2.7b.yaml \
	scenarios/models/gpt3-6.7b.yaml \
	scenarios/models/gpt3-13b.yaml \
	scenarios/models/gpt3-175b.yaml \
	scenarios/models/llama2-7b.yaml \
	scenarios/models/llama2-13b.yaml \
	scenarios/models/llama2-70b.yaml \
	scenarios/models/llama3-8b.yaml \
	scenarios/models/llama3-70b.yaml \
	scenarios/models/llama3-405b.yaml \
	scenarios/hardware/a100-40gb.yaml \
	scenarios/hardware/a100-80gb.yaml \
	scenarios/hardware/h100-sxm.yaml \
	scenarios/hardware/h200.yaml \
	scenarios/hardware/v100-32gb.yaml \
	scenarios/hardware/tpu-v4.yaml \
	scenarios/hardware/alveo-u280.yaml \
	scenarios/hardware/this-cpu.yaml \
	scenarios/clusters/dgx-a100.yaml \
	scenarios/clusters/dgx-h100.yaml \
	scenarios/clusters/dgx-h200.yaml \
	scenarios/clusters/local.yaml \
	scenarios/gpt3-175b-dgx-a100.yaml \
	scenarios/llama3-70b-dgx-h100.yaml \
	scenarios/llama2-7b-dgx-a100-zero3.yaml \
	scenarios/gpt2-124m-local.yaml \
	scenarios/gpt3-13b-sweep.yaml
EXTRA_DIST += scenarios/schema.md
if HAVE_CMOCKA
check_PROGRAMS += tests/test-list tests/test-presets
TESTS += tests/test-list tests/test-presets
endif

// A shared library that is not an lrplab plugin: it has no lrp_plugin_entry.
extern "C" int lrp_test_not_a_plugin() { return 42; }

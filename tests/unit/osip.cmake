# osip.cmake - the libosip2 differential test, included from tests/unit/CMakeLists.txt.
# Kept apart because it is the only unit test that links a third-party SIP parser.
edge_unit_test(test_sip_osip_diff test_sip_osip_diff.c LIBS edge_sip PkgConfig::OSIP2)

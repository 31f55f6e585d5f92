// The Catch2 main shared by every ptrec test binary.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

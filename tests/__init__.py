"""The test suite: pure planning, function index, end to end over the simulator, infra."""

package auth

// UseCheapHashesInTests makes every password hash this process makes from
// now on use argon2id at 1 MiB and one pass instead of defaultParams, and
// lets decodeHash accept such hashes. Only a test binary's TestMain calls
// it, before any test runs: under the race detector a real hash costs
// about 0.6 s of CPU and one at the 8 MiB floor about 40 ms, and fixtures
// hash a password for every user they add and verify one at every
// sign-in. A stored hash keeps its parameters, so it is still checked at
// the cost it was made with; the tests of the parameters and of the floor
// restore both first (internal/auth's useProductionHashes).
func UseCheapHashesInTests() {
	defaultParams.memory, defaultParams.time = 1024, 1
	minHashMemory = 1024
}

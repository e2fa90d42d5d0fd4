package auth

// UseCheapHashesInTests makes every password hash this process makes from
// now on use the cheapest argon2id parameters decodeHash accepts (8 MiB,
// one pass) instead of defaultParams. Only a test binary's TestMain calls
// it, before any test runs: under the race detector one real hash costs
// about 0.4 s of CPU, and fixtures hash a password for every user they add
// and sign in. A stored hash keeps its parameters, so it is still checked
// at the cost it was made with; the tests of the parameters themselves run
// in a process that never calls this.
func UseCheapHashesInTests() {
	defaultParams.memory, defaultParams.time = 8*1024, 1
}

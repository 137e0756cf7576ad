package callback

// DeriveKeyForTest exposes the token key derivation to black-box tests.
func DeriveKeyForTest(secret string) []byte { return deriveKey(secret) }

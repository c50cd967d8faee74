//! RSA-2048 key pairs for tests and the sandbox (public: never use them for a real
//! provider). `MERCHANT` is the gateway's own pair (it signs the gateway's token requests;
//! simulators verify with the public half); the others are the simulated providers' pairs
//! (they sign the token requests and notifications the providers send to the gateway; the
//! gateway verifies with the public halves). PEM text: PKCS#8 private keys,
//! SubjectPublicKeyInfo public keys.

/// A PEM key pair.
#[derive(Clone, Copy, Debug)]
pub struct KeyPair {
    /// PKCS#8 private key, PEM.
    pub private_pem: &'static str,
    /// SubjectPublicKeyInfo public key, PEM.
    pub public_pem: &'static str,
}

/// The gateway's (merchant's) key pair.
pub const MERCHANT: KeyPair = KeyPair {
    private_pem: include_str!("../keys/merchant.private.pem"),
    public_pem: include_str!("../keys/merchant.public.pem"),
};

/// The simulated DOKU's key pair.
pub const DOKU: KeyPair = KeyPair {
    private_pem: include_str!("../keys/doku.private.pem"),
    public_pem: include_str!("../keys/doku.public.pem"),
};

/// The simulated AstraPay's key pair.
pub const ASTRAPAY: KeyPair = KeyPair {
    private_pem: include_str!("../keys/astrapay.private.pem"),
    public_pem: include_str!("../keys/astrapay.public.pem"),
};

/// The simulated BNI's (SNAP) key pair.
pub const BNI: KeyPair = KeyPair {
    private_pem: include_str!("../keys/bni.private.pem"),
    public_pem: include_str!("../keys/bni.public.pem"),
};

/// The demo pair Midtrans publishes for SNAP signature samples: known-answer tests only.
pub const SNAP_DEMO: KeyPair = KeyPair {
    private_pem: include_str!("../../testdata/snap-demo/private.pem"),
    public_pem: include_str!("../../testdata/snap-demo/public.pem"),
};

//! The control plane's PKI, made fresh for every control plane: nothing secret is checked in or
//! shared between tests, and a test can never authenticate against another test's API server.
//!
//! TLS material is ECDSA P-256 (fast to make with `ring`); the ServiceAccount signing key is
//! RSA 2048 because real clusters sign their tokens RS256 and code that verifies them against
//! the API server's JWKS must meet the same algorithm here.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};

use crate::EnvtestError;

/// Paths of the generated files and the CA certificate text.
#[derive(Debug, Clone)]
pub(crate) struct Pki {
    pub ca_pem: String,
    pub ca_cert: PathBuf,
    pub serving_cert: PathBuf,
    pub serving_key: PathBuf,
    pub admin_cert: PathBuf,
    pub admin_key: PathBuf,
    pub sa_public: PathBuf,
    pub sa_private: PathBuf,
}

fn pki_error(what: &str) -> impl FnOnce(rcgen::Error) -> EnvtestError + '_ {
    move |e| EnvtestError::Pki(format!("{what}: {e}"))
}

fn write(path: &Path, text: &str) -> Result<(), EnvtestError> {
    std::fs::write(path, text)
        .map_err(|e| EnvtestError::io(format!("writing {}", path.display()), e))
}

/// Generates the CA, the serving certificate (127.0.0.1, localhost), the admin client
/// certificate (`O=system:masters`) and the ServiceAccount key pair into `dir`.
pub(crate) fn generate(dir: &Path) -> Result<Pki, EnvtestError> {
    std::fs::create_dir_all(dir)
        .map_err(|e| EnvtestError::io(format!("creating {}", dir.display()), e))?;

    let ca_key = KeyPair::generate().map_err(pki_error("CA key"))?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(pki_error("CA"))?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hostrisk-envtest-ca");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(pki_error("CA"))?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let serving_key = KeyPair::generate().map_err(pki_error("serving key"))?;
    let mut serving =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .map_err(pki_error("serving certificate"))?;
    serving
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    serving.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let serving_cert = serving
        .signed_by(&serving_key, &issuer)
        .map_err(pki_error("serving certificate"))?;

    let admin_key = KeyPair::generate().map_err(pki_error("admin key"))?;
    let mut admin =
        CertificateParams::new(Vec::<String>::new()).map_err(pki_error("admin certificate"))?;
    admin
        .distinguished_name
        .push(DnType::CommonName, "envtest-admin");
    admin
        .distinguished_name
        .push(DnType::OrganizationName, "system:masters");
    admin.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let admin_cert = admin
        .signed_by(&admin_key, &issuer)
        .map_err(pki_error("admin certificate"))?;

    let mut rng = rsa::rand_core::OsRng;
    let sa_key = rsa::RsaPrivateKey::new(&mut rng, 2048)
        .map_err(|e| EnvtestError::Pki(format!("ServiceAccount RSA key: {e}")))?;
    let sa_private = sa_key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| EnvtestError::Pki(format!("ServiceAccount RSA key: {e}")))?;
    let sa_public = sa_key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| EnvtestError::Pki(format!("ServiceAccount public key: {e}")))?;

    let pki = Pki {
        ca_pem: ca_pem.clone(),
        ca_cert: dir.join("ca.crt"),
        serving_cert: dir.join("apiserver.crt"),
        serving_key: dir.join("apiserver.key"),
        admin_cert: dir.join("admin.crt"),
        admin_key: dir.join("admin.key"),
        sa_public: dir.join("sa.pub"),
        sa_private: dir.join("sa.key"),
    };
    write(&pki.ca_cert, &ca_pem)?;
    write(&pki.serving_cert, &serving_cert.pem())?;
    write(&pki.serving_key, &serving_key.serialize_pem())?;
    write(&pki.admin_cert, &admin_cert.pem())?;
    write(&pki.admin_key, &admin_key.serialize_pem())?;
    write(&pki.sa_public, &sa_public)?;
    write(&pki.sa_private, &sa_private)?;
    Ok(pki)
}

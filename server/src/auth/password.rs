//! Password hashing (argon2id). Hashing is slow and memory-hungry on purpose
//! (about 19 MiB per hash), so a node hashes on a fixed set of worker
//! threads and never queues more than it can finish in a moment: a flood of
//! logins gets "busy" answers instead of the node's memory.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use std::cell::RefCell;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::distributions::{Alphanumeric, DistString};
use rand::rngs::OsRng;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// Why no hash was computed.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Every worker stayed busy for the whole wait.
    #[error("every password worker is busy")]
    Busy,
    #[error("{0}")]
    Failed(String),
}

type Job = Box<dyn FnOnce() + Send>;

/// A fixed number of hashing threads and a bounded wait for one of them.
///
/// Dedicated threads, not `spawn_blocking`: the allocator keeps an arena per
/// thread, and a hash's 19 MiB stays cached in each arena that ever ran one,
/// so hundreds of blocking threads hashing at once kept gigabytes after a
/// flood. Here at most `workers` hashes exist at any moment.
pub struct Hasher {
    slots: Arc<Semaphore>,
    wait: Duration,
    jobs: mpsc::SyncSender<Job>,
}

impl Hasher {
    /// Starts `workers` threads (at least one); a caller waits at most
    /// `wait` for a free one.
    pub fn new(workers: usize, wait: Duration) -> Self {
        let workers = workers.max(1);
        let (jobs, queue) = mpsc::sync_channel::<Job>(workers);
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..workers {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("vigil-hash-{n}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = queue.lock().map(|q| q.recv());
                        match job {
                            Ok(Ok(job)) => job(),
                            _ => return, // the node is gone
                        }
                    }
                })
                .expect("start a password worker");
        }
        Self {
            slots: Arc::new(Semaphore::new(workers)),
            wait,
            jobs,
        }
    }

    /// A free worker, waited for at most the configured wait. Whoever holds
    /// one may do a little work before hashing (a login's lookups), so that
    /// work is bounded by the number of workers too.
    pub async fn slot(&self) -> Result<Slot, HashError> {
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| HashError::Busy)?
            .map_err(|_| HashError::Busy)?;
        Ok(Slot {
            permit,
            jobs: self.jobs.clone(),
        })
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, HashError> {
        self.slot().await?.hash(password).await
    }
}

/// A hashing worker reserved for one caller.
pub struct Slot {
    permit: OwnedSemaphorePermit,
    jobs: mpsc::SyncSender<Job>,
}

impl Slot {
    /// Runs `work` on the reserved worker.
    async fn run<T: Send + 'static>(
        self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, HashError> {
        let Slot { permit, jobs } = self;
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
            drop(permit);
        });
        // Never blocks: a job is sent only with a permit, and the channel
        // holds as many jobs as there are permits.
        jobs.try_send(job)
            .map_err(|_| HashError::Failed("password workers stopped".into()))?;
        result
            .await
            .map_err(|_| HashError::Failed("password worker failed".into()))
    }

    /// Hashes a password into a PHC string.
    pub async fn hash(self, password: String) -> Result<String, HashError> {
        self.run(move || hash_now(&password)).await?
    }

    /// Checks a password against a stored PHC string. When there is no
    /// stored hash (unknown user), the same work is done anyway so that
    /// response times do not tell which user names exist.
    pub async fn verify(self, password: String, stored: Option<String>) -> Result<bool, HashError> {
        self.run(move || verify_now(&password, stored.as_deref()))
            .await?
    }
}

/// Hashing yields the CPU to the threads that serve requests: a flood of
/// sign-ins slows sign-ins, not heartbeats or the console.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: changes the niceness of the calling thread only.
    unsafe {
        let thread = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, thread as libc::id_t, 10);
    }
}

thread_local! {
    /// A worker's argon2 memory, allocated at its first hash and reused:
    /// freeing and allocating 19 MiB per hash left the allocator holding
    /// hundreds of megabytes after a flood.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Stored hashes asking for more memory than this are refused (ours use
/// 19 MiB).
const MAX_BLOCKS: usize = 256 * 1024;

/// Runs argon2 with this thread's memory.
fn argon2_into(
    argon: &Argon2<'_>,
    blocks: usize,
    password: &str,
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    if blocks > MAX_BLOCKS {
        return Err(HashError::Failed(
            "stored password hash asks for too much memory".into(),
        ));
    }
    MEMORY.with(|memory| {
        let mut memory = memory.borrow_mut();
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt, out, &mut memory[..blocks])
            .map_err(|e| HashError::Failed(format!("cannot hash password: {e}")))
    })
}

fn hash_now(password: &str) -> Result<String, HashError> {
    let failed =
        |e: argon2::password_hash::Error| HashError::Failed(format!("cannot hash password: {e}"));
    let salt = SaltString::generate(&mut OsRng);
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(failed)?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2_into(&argon, params.block_count(), password, raw_salt, &mut out)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(failed)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(failed)?),
    };
    Ok(phc.to_string())
}

fn verify_now(password: &str, stored: Option<&str>) -> Result<bool, HashError> {
    let Some(stored) = stored else {
        let _ = hash_now(password);
        return Ok(false);
    };
    let invalid = |e: argon2::password_hash::Error| {
        HashError::Failed(format!("stored password hash is invalid: {e}"))
    };
    let parsed = PasswordHash::new(stored).map_err(invalid)?;
    let expected = parsed
        .hash
        .ok_or_else(|| HashError::Failed("stored password hash has no hash".into()))?;
    let algorithm = Algorithm::try_from(parsed.algorithm).map_err(invalid)?;
    let version = parsed
        .version
        .map(Version::try_from)
        .transpose()
        .map_err(|e| HashError::Failed(format!("stored password hash is invalid: {e}")))?
        .unwrap_or_default();
    let params = Params::try_from(&parsed).map_err(invalid)?;
    let salt = parsed
        .salt
        .ok_or_else(|| HashError::Failed("stored password hash has no salt".into()))?;
    let mut raw_salt = [0u8; 64];
    let raw_salt = salt.decode_b64(&mut raw_salt).map_err(invalid)?;
    let argon = Argon2::new(algorithm, version, params.clone());
    let mut out = vec![0u8; expected.len()];
    argon2_into(&argon, params.block_count(), password, raw_salt, &mut out)?;
    // `Output` compares in constant time.
    Ok(Output::new(&out).map_err(invalid)? == expected)
}

/// A random password for the first admin when none was configured.
pub fn generate() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 20)
}

/// Passwords seen first in every guessing list; refused whatever their
/// length (compared without case, spaces, dashes and trailing digits).
const COMMON: &[&str] = &[
    "password",
    "passwordpassword",
    "qwertyuiop",
    "qwertyuiopasdf",
    "administrator",
    "letmeinplease",
    "changemechangeme",
    "iloveyou",
    "welcometovigil",
    "vigiladmin",
    "adminadmin",
    "adminpassword",
    "abcdefghijkl",
    "abcdefghijklmnop",
    "passw0rdpassw0rd",
    "trustno1trustno1",
    "correcthorsebatterystaple",
    "monkeymonkey",
    "dragondragon",
    "superman",
    "football",
    "baseball",
    "sunshine",
];

/// The one password policy of every way a password is set (the first
/// admin's from the configuration, new users through the API): at least
/// 12 characters, at most 1 024 bytes, not only whitespace, not a well-known
/// password or a run of one character or of digits.
pub fn check_policy(password: &str) -> Result<(), String> {
    if password.chars().count() < 12 || password.len() > 1024 {
        return Err("password must be 12 to 1024 characters".into());
    }
    if password.trim().is_empty() {
        return Err("password must not be only spaces".into());
    }
    let folded: String = password
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-' && *c != '_' && *c != '.')
        .flat_map(char::to_lowercase)
        .collect();
    let stem = folded.trim_end_matches(|c: char| c.is_ascii_digit());
    let mut chars = folded.chars();
    let first = chars.next();
    let one_char = chars.all(|c| Some(c) == first);
    let all_digits = folded.chars().all(|c| c.is_ascii_digit());
    if one_char || all_digits || COMMON.contains(&stem) || COMMON.contains(&folded.as_str()) {
        return Err("password is too easy to guess; choose a less common one".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn right_password_verifies_and_wrong_does_not() {
        let hasher = Hasher::new(1, Duration::from_secs(5));
        let stored = hasher.hash("correct horse".into()).await.unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        let verify = |password: &str, stored: Option<String>| {
            let password = password.to_owned();
            let hasher = &hasher;
            async move { hasher.slot().await?.verify(password, stored).await }
        };
        assert!(verify("correct horse", Some(stored.clone())).await.unwrap());
        assert!(!verify("battery staple", Some(stored)).await.unwrap());
        assert!(!verify("anything", None).await.unwrap());
    }

    /// Hashes made the usual way (the crate's own hasher, other parameters)
    /// verify too: users created before keep their passwords.
    #[test]
    fn hashes_of_the_usual_encoder_verify() {
        use argon2::PasswordHasher;
        let salt = SaltString::generate(&mut OsRng);
        let params = Params::new(8192, 3, 1, None).unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let stored = argon
            .hash_password(b"old password", &salt)
            .unwrap()
            .to_string();
        assert!(verify_now("old password", Some(&stored)).unwrap());
        assert!(!verify_now("new password", Some(&stored)).unwrap());
        let ours = hash_now("pw").unwrap();
        assert!(argon2::PasswordVerifier::verify_password(
            &Argon2::default(),
            b"pw",
            &PasswordHash::new(&ours).unwrap()
        )
        .is_ok());
    }

    #[tokio::test]
    async fn a_caller_that_finds_every_worker_busy_is_told_so_at_once() {
        let hasher = Hasher::new(1, Duration::from_millis(20));
        let held = hasher.slot().await.unwrap();
        let refused = hasher.slot().await;
        assert!(matches!(refused, Err(HashError::Busy)));
        drop(held);
        let slot = hasher.slot().await.unwrap();
        assert!(!slot.verify("x".into(), None).await.unwrap());
    }

    #[test]
    fn one_policy_refuses_short_blank_and_common_passwords() {
        assert!(check_policy("a").is_err());
        assert!(check_policy("          ").is_err(), "ten spaces");
        assert!(check_policy("              ").is_err(), "fourteen spaces");
        assert!(check_policy("Password-2024").is_err());
        assert!(check_policy("aaaaaaaaaaaaaa").is_err());
        assert!(check_policy("123456789012").is_err());
        assert!(check_policy("eleven char").is_err());
        assert!(check_policy("mauve lantern 42").is_ok());
        assert!(check_policy(&"x".repeat(1025)).is_err());
    }
}

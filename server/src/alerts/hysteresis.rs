//! When a condition's firing opens and clears: it must hold for `hold`
//! before it fires, and be false for `clear_for` before it clears, so a
//! flapping product neither fires nor clears every period.

/// What an alert remembers of one key between evaluations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Memory {
    pub true_since: Option<i64>,
    pub false_since: Option<i64>,
    pub firing: bool,
}

/// What an evaluation does to a key's firing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Open,
    Clear,
    Keep,
}

/// The next memory and step, for a condition seen `now` (ms).
pub fn step(m: Memory, holds: bool, now: i64, hold_ms: i64, clear_ms: i64) -> (Memory, Step) {
    if holds {
        let since = m.true_since.unwrap_or(now);
        let fire = !m.firing && now - since >= hold_ms;
        let next = Memory {
            true_since: Some(since),
            false_since: None,
            firing: m.firing || fire,
        };
        (next, if fire { Step::Open } else { Step::Keep })
    } else {
        let since = if m.firing {
            Some(m.false_since.unwrap_or(now))
        } else {
            None
        };
        let clear = m.firing && since.is_some_and(|s| now - s >= clear_ms);
        let next = Memory {
            true_since: None,
            false_since: since.filter(|_| !clear),
            firing: m.firing && !clear,
        };
        (next, if clear { Step::Clear } else { Step::Keep })
    }
}

impl Memory {
    /// Whether there is anything to keep (otherwise the row goes).
    pub fn worth_keeping(&self) -> bool {
        self.firing || self.true_since.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seen: &[bool], hold: i64, clear: i64) -> Vec<Step> {
        let mut m = Memory::default();
        seen.iter()
            .enumerate()
            .map(|(i, holds)| {
                let (next, s) = step(m, *holds, i as i64 * 10, hold, clear);
                m = next;
                s
            })
            .collect()
    }

    #[test]
    fn a_condition_fires_after_it_held_and_clears_after_it_stopped() {
        use Step::*;
        assert_eq!(
            run(&[true, true, true, false, false, false], 20, 20),
            [Keep, Keep, Open, Keep, Keep, Clear]
        );
        assert_eq!(run(&[true, false], 0, 0), [Open, Clear]);
    }

    #[test]
    fn flapping_faster_than_for_and_clear_for_neither_fires_nor_clears() {
        let flapping: Vec<bool> = (0..20).map(|i| i % 2 == 0).collect();
        assert!(run(&flapping, 15, 15).iter().all(|s| *s == Step::Keep));
        // Once firing, short dips do not clear it.
        let mut seen = vec![true; 3];
        seen.extend((0..10).map(|i| i % 2 == 0));
        let steps = run(&seen, 20, 15);
        assert_eq!(steps.iter().filter(|s| **s == Step::Open).count(), 1);
        assert_eq!(steps.iter().filter(|s| **s == Step::Clear).count(), 0);
    }
}

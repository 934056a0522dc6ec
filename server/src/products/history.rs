//! The fleet's status over time, for the dashboard chart: the offline-sweep
//! holder samples the counts every [`SAMPLE_EVERY`]; the console reads them
//! thinned to at most [`MAX_POINTS`].

use std::time::Duration;

use app::api::FleetPoint;

/// How often the counts are sampled.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// How long samples are kept.
pub const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most points a chart gets.
pub const MAX_POINTS: usize = 360;

/// The windows the console offers.
pub fn window(text: &str) -> Option<Duration> {
    match text {
        "1h" => Some(Duration::from_secs(3600)),
        "24h" => Some(Duration::from_secs(24 * 3600)),
        "7d" => Some(KEEP),
        _ => None,
    }
}

/// Keeps at most `max` points, evenly spread, always the first and last:
/// for each stretch of the time axis, the sample with the most offline
/// products (an outage must not vanish by thinning).
pub fn thin(points: Vec<FleetPoint>, max: usize) -> Vec<FleetPoint> {
    if points.len() <= max || max < 2 {
        return points;
    }
    let (first, last) = (points[0].at, points[points.len() - 1].at);
    let span = (last - first).max(1) as f64;
    let buckets = max - 1;
    let mut out: Vec<FleetPoint> = Vec::with_capacity(max);
    let mut current: Option<(usize, FleetPoint)> = None;
    for p in points {
        let bucket = (((p.at - first) as f64 / span) * buckets as f64) as usize;
        match &mut current {
            Some((b, best)) if *b == bucket => {
                if p.offline > best.offline || p.at == last {
                    *best = p;
                }
            }
            _ => {
                if let Some((_, best)) = current.take() {
                    out.push(best);
                }
                current = Some((bucket, p));
            }
        }
    }
    out.extend(current.map(|(_, p)| p));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: i64, offline: i64) -> FleetPoint {
        FleetPoint {
            at,
            pending: 0,
            online: 100 - offline,
            offline,
            unmanaged: 0,
        }
    }

    #[test]
    fn short_series_are_kept_whole() {
        let points: Vec<_> = (0..10).map(|i| point(i, 0)).collect();
        assert_eq!(thin(points.clone(), 360), points);
    }

    #[test]
    fn long_series_are_thinned_but_keep_their_ends_and_outages() {
        let mut points: Vec<_> = (0..10_000).map(|i| point(i * 10, 0)).collect();
        points[5_003].offline = 40;
        let thinned = thin(points, 100);
        assert!(thinned.len() <= 100, "{}", thinned.len());
        assert_eq!(thinned[0].at, 0);
        assert_eq!(thinned.last().unwrap().at, 99_990);
        assert!(thinned.iter().any(|p| p.offline == 40));
        assert!(thinned.windows(2).all(|w| w[0].at < w[1].at));
    }

    #[test]
    fn only_known_windows_are_accepted() {
        assert_eq!(window("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(window("2h"), None);
    }
}

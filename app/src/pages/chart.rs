//! The fleet chart: online and offline products over time, drawn as SVG
//! (no charting library in the browser bundle).

use leptos::prelude::*;

use crate::api::{FleetHistory, FleetPoint};
use crate::time::format_utc;

// Whole SVG units: at this size a unit is a pixel or less, and integers
// keep float formatting (several KB of wasm) out of the browser bundle.
const WIDTH: i64 = 720;
const HEIGHT: i64 = 220;
const LEFT: i64 = 48;
const RIGHT: i64 = 12;
const TOP: i64 = 12;
const BOTTOM: i64 = 28;

/// Chart coordinates of a series.
fn polyline(points: &[FleetPoint], value: fn(&FleetPoint) -> i64, max: i64) -> String {
    let (t0, t1) = (points[0].at, points[points.len() - 1].at);
    let span = i128::from((t1 - t0).max(1));
    let max = i128::from(max.max(1));
    points
        .iter()
        .map(|p| {
            let x =
                i128::from(LEFT) + i128::from(p.at - t0) * i128::from(WIDTH - LEFT - RIGHT) / span;
            let y = i128::from(HEIGHT - BOTTOM)
                - i128::from(value(p)) * i128::from(HEIGHT - TOP - BOTTOM) / max;
            format!("{x},{y}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lowest and highest value of a series, for the text summary.
fn range(points: &[FleetPoint], value: fn(&FleetPoint) -> i64) -> (i64, i64) {
    let values = points.iter().map(value);
    (values.clone().min().unwrap_or(0), values.max().unwrap_or(0))
}

fn label(window: &str) -> &'static str {
    match window {
        "24h" => "the last 24 hours",
        "7d" => "the last 7 days",
        _ => "the last hour",
    }
}

/// The chart of one history, with a text summary for screen readers and
/// tests alike.
pub fn fleet_chart(h: FleetHistory) -> impl IntoView {
    let points = h.points;
    let when = label(&h.window);
    if points.len() < 2 {
        return view! { <p class="muted">"No history yet: the fleet is sampled every 10 seconds."</p> }
            .into_any();
    }
    let online = |p: &FleetPoint| p.online;
    let offline = |p: &FleetPoint| p.offline;
    let max = points
        .iter()
        .map(|p| p.online.max(p.offline))
        .max()
        .unwrap_or(0)
        .max(1);
    let (on_lo, on_hi) = range(&points, online);
    let (off_lo, off_hi) = range(&points, offline);
    let summary = format!("Over {when}: online {on_lo}–{on_hi}, offline {off_lo}–{off_hi}");
    let (start, end) = (points[0].at, points[points.len() - 1].at);
    let baseline = HEIGHT - BOTTOM;
    view! {
        <figure class="chart">
            <svg
                viewBox=format!("0 0 {WIDTH} {HEIGHT}")
                role="img"
                aria-label=format!("Online and offline products over {when}")
            >
                <line class="axis" x1=LEFT y1=TOP x2=LEFT y2=baseline/>
                <line class="axis" x1=LEFT y1=baseline x2=WIDTH - RIGHT y2=baseline/>
                <text class="tick" x=LEFT - 6 y=TOP + 10 text-anchor="end">{max.to_string()}</text>
                <text class="tick" x=LEFT - 6 y=baseline text-anchor="end">"0"</text>
                <text class="tick" x=LEFT y=HEIGHT - 8>{format_utc(start)}</text>
                <text class="tick" x=WIDTH - RIGHT y=HEIGHT - 8 text-anchor="end">{format_utc(end)}</text>
                <polyline class="series-online" points=polyline(&points, online, max)/>
                <polyline class="series-offline" points=polyline(&points, offline, max)/>
            </svg>
            <figcaption>
                <span class="key key-online">"Online"</span>
                <span class="key key-offline">"Offline"</span>
                <span class="muted">{summary}</span>
            </figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: i64, online: i64) -> FleetPoint {
        FleetPoint {
            at,
            online,
            ..Default::default()
        }
    }

    #[test]
    fn series_span_the_plot_area() {
        let line = polyline(&[point(0, 0), point(10, 5)], |p| p.online, 5);
        assert_eq!(
            line,
            format!("{LEFT},{} {},{TOP}", HEIGHT - BOTTOM, WIDTH - RIGHT)
        );
    }

    #[test]
    fn ranges_cover_the_series() {
        let points = [point(0, 3), point(1, 9), point(2, 4)];
        assert_eq!(range(&points, |p| p.online), (3, 9));
    }
}

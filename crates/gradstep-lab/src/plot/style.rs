use plotters::style::RGBColor;

use super::Dash;

/// The course's plot style: colours (matplotlib's default cycle, as in the source text),
/// sizes and fonts, in one place.
#[derive(Debug, Clone, Copy)]
pub struct Style;

impl Style {
    /// Pixels per inch of figure size; the source text gives sizes in inches.
    pub const DPI: f64 = 110.0;
    /// How many times finer than the displayed size the plots are drawn: plotters' SVG backend
    /// rounds coordinates to whole pixels of its canvas, so the canvas (and with it every font
    /// size, stroke width, margin and marker) is this many times larger, and the root `<svg>`
    /// declares the display size. All sizes in this style are display pixels.
    pub(crate) const OVERSAMPLE: u32 = 4;
    /// The colour cycle for successive series: blue, orange, green, red, purple, brown.
    pub const CYCLE: [RGBColor; 6] = [
        RGBColor(0x1f, 0x77, 0xb4),
        RGBColor(0xff, 0x7f, 0x0e),
        RGBColor(0x2c, 0xa0, 0x2c),
        RGBColor(0xd6, 0x27, 0x28),
        RGBColor(0x94, 0x67, 0xbd),
        RGBColor(0x8c, 0x56, 0x4b),
    ];
    /// Font family of every label.
    pub const FONT: &'static str = "sans-serif";
    /// Size of tick labels, in pixels.
    pub const TICK_FONT: u32 = 13;
    /// Size of axis descriptions and legends, in pixels.
    pub const LABEL_FONT: u32 = 15;
    /// Size of legend entries and annotations, in pixels.
    pub const LEGEND_FONT: u32 = 13;
    /// Light grey of the grid lines.
    pub const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);
    /// Stroke width of data lines, in pixels.
    pub const LINE_WIDTH: u32 = 2;
    /// Radius of the dots on an `-o` line, in pixels.
    pub const MARKER_SIZE: u32 = 3;
    /// The source's `plot` formats for successive series: `-` (blue), `m--`, `g-.`, `r:`.
    pub const FORMATS: [(RGBColor, Dash); 4] = [
        (RGBColor(0x1f, 0x77, 0xb4), Dash::Solid),
        (RGBColor(0xbf, 0x00, 0xbf), Dash::Dashed),
        (RGBColor(0x00, 0x80, 0x00), Dash::DashDot),
        (RGBColor(0xff, 0x00, 0x00), Dash::Dotted),
    ];

    /// Pixel size of a figure of `w` × `h` inches.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::plot::Style;
    ///
    /// assert_eq!(Style::size(3.5, 2.5), (385, 275));
    /// ```
    pub fn size(w: f64, h: f64) -> (u32, u32) {
        ((w * Self::DPI).round() as u32, (h * Self::DPI).round() as u32)
    }

    /// The `i`-th colour of the cycle.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::plot::Style;
    ///
    /// assert_eq!(Style::color(1), Style::color(7)); // orange, the colour of paths
    /// ```
    pub fn color(i: usize) -> RGBColor {
        Self::CYCLE[i % Self::CYCLE.len()]
    }

    /// The `i`-th of the source's line formats ([`Style::FORMATS`]), as colour and dash.
    ///
    /// # Example
    /// ```
    /// use gradstep_lab::plot::{Dash, Style};
    ///
    /// assert_eq!(Style::format(1).1, Dash::Dashed);
    /// ```
    pub fn format(i: usize) -> (RGBColor, Dash) {
        Self::FORMATS[i % Self::FORMATS.len()]
    }
}

use plotters::style::RGBColor;

/// The course's plot style: colours (matplotlib's default cycle, as in the source text),
/// sizes and fonts, in one place.
#[derive(Debug, Clone, Copy)]
pub struct Style;

impl Style {
    /// Pixels per inch of figure size; the source text gives sizes in inches.
    pub const DPI: f64 = 110.0;
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
    /// Light grey of the grid lines.
    pub const GRID: RGBColor = RGBColor(0xdd, 0xdd, 0xdd);

    /// Pixel size of a figure of `w` × `h` inches.
    pub fn size(w: f64, h: f64) -> (u32, u32) {
        ((w * Self::DPI).round() as u32, (h * Self::DPI).round() as u32)
    }

    /// The `i`-th colour of the cycle.
    pub fn color(i: usize) -> RGBColor {
        Self::CYCLE[i % Self::CYCLE.len()]
    }
}

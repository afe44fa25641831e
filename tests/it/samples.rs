//! The images the tests upload, made here so that the suite needs nothing beside the project:
//! a guest's portrait (JPEG and PNG), a camera-sized 24 MP JPEG with sensor-like noise, a JPEG
//! stored sideways with EXIF orientation 6, two reference images, a truncated JPEG and a file
//! that is no image at all. Each is made once per test run.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The sample images by name; the extension says the format.
pub const NAMES: [&str; 8] = [
    "guest-512.jpg",
    "guest-512.png",
    "guest-6000x4000.jpg",
    "guest-exif-rotated.jpg",
    "reference-template.jpg",
    "reference-background.jpg",
    "truncated.jpg",
    "not-an-image.jpg",
];

/// The bytes of a sample image.
pub fn sample(name: &str) -> Vec<u8> {
    static MADE: OnceLock<Mutex<HashMap<String, Vec<u8>>>> = OnceLock::new();
    let made = MADE.get_or_init(Mutex::default);
    if let Some(bytes) = made.lock().unwrap().get(name) {
        return bytes.clone();
    }
    let bytes = make(name);
    made.lock().unwrap().insert(name.to_owned(), bytes.clone());
    bytes
}

fn make(name: &str) -> Vec<u8> {
    match name {
        "guest-512.jpg" => jpeg(&portrait(512, 512, 0), 512, 512, None),
        "guest-512.png" => png_with_transparent_corners(512, 512),
        // Noise makes it weigh what a camera's photo weighs (about 6 MB).
        "guest-6000x4000.jpg" => camera_jpeg(&portrait(6000, 4000, NOISE), 6000, 4000),
        // 768 wide and 512 high as stored; upright (turned 90°) it is 512 wide, 768 high.
        "guest-exif-rotated.jpg" => jpeg(&portrait(768, 512, 0), 768, 512, Some(6)),
        "reference-template.jpg" => jpeg(&scene(451, 300, [200, 120, 60]), 451, 300, None),
        "reference-background.jpg" => jpeg(&scene(600, 400, [40, 140, 90]), 600, 400, None),
        "truncated.jpg" => {
            let whole = sample("guest-512.jpg");
            whole[..whole.len() / 2].to_vec()
        }
        "not-an-image.jpg" => b"<html><body>Not Found</body></html>\n".to_vec(),
        other => panic!("no sample image named {other}; the samples are {NAMES:?}"),
    }
}

/// A picture as a model draws one: a real portrait (matplotlib's `grace_hopper`, U.S. Navy,
/// public domain) at the model's size, tinted towards `tint` so that a test can tell which
/// fake drew it. It has a face, so it passes the result checks of every slot type.
pub fn drawn_by_model(
    width: u32,
    height: u32,
    tint: [u8; 3],
    format: image::ImageFormat,
) -> Vec<u8> {
    type Key = (u32, u32, [u8; 3], image::ImageFormat);
    static MADE: OnceLock<Mutex<HashMap<Key, Vec<u8>>>> = OnceLock::new();
    let made = MADE.get_or_init(Mutex::default);
    let key = (width, height, tint, format);
    if let Some(bytes) = made.lock().unwrap().get(&key) {
        return bytes.clone();
    }
    let portrait = image::load_from_memory(include_bytes!("../photos/grace-hopper.jpg")).unwrap();
    let mut image = portrait
        .resize_to_fill(width, height, image::imageops::FilterType::Triangle)
        .into_rgb8();
    for px in image.pixels_mut() {
        for (c, t) in px.0.iter_mut().zip(tint) {
            *c = ((u16::from(*c) * 55 + u16::from(t) * 45) / 100) as u8;
        }
    }
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    let bytes = out.into_inner();
    made.lock().unwrap().insert(key, bytes.clone());
    bytes
}

/// The mean red, green and blue of an image.
pub fn mean_rgb(bytes: &[u8]) -> [f64; 3] {
    let image = image::load_from_memory(bytes).unwrap().into_rgb8();
    let mut sum = [0.0; 3];
    for px in image.pixels() {
        for (s, c) in sum.iter_mut().zip(px.0) {
            *s += f64::from(c);
        }
    }
    let n = f64::from(image.width() * image.height());
    sum.map(|s| s / n)
}

/// A deterministic pseudo-random sequence (xorshift), so every run uploads the same bytes.
struct Noise(u32);

impl Noise {
    fn next(&mut self, amplitude: i32) -> i32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 17;
        self.0 ^= self.0 << 5;
        if amplitude == 0 {
            0
        } else {
            (self.0 % (2 * amplitude as u32 + 1)) as i32 - amplitude
        }
    }
}

fn clamp(v: i32) -> u8 {
    v.clamp(0, 255) as u8
}

/// RGB pixels of a portrait: a blue sky fading down, a skin-toned face in the middle, a dark
/// body below it, with sensor-like noise of the given amplitude.
fn portrait(width: u32, height: u32, noise: i32) -> Vec<u8> {
    let mut rng = Noise(0x9E37_79B9);
    let (cx, cy) = (width as f32 / 2.0, height as f32 * 0.42);
    let (rx, ry) = (width as f32 * 0.16, height as f32 * 0.22);
    let mut data = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        let sky = 255 - (y * 120 / height) as i32;
        for x in 0..width {
            let (dx, dy) = ((x as f32 - cx) / rx, (y as f32 - cy) / ry);
            let base = if dx * dx + dy * dy <= 1.0 {
                [224, 172, 140]
            } else if y as f32 > cy + ry && (x as f32 - cx).abs() < rx * 1.8 {
                [40, 40, 70]
            } else {
                [90, 150, sky]
            };
            data.extend(base.map(|c| clamp(c + rng.next(noise))));
        }
    }
    data
}

/// RGB pixels of a reference scene: stripes in one colour, so a blend with it shows.
fn scene(width: u32, height: u32, colour: [i32; 3]) -> Vec<u8> {
    (0..height)
        .flat_map(|y| {
            (0..width).flat_map(move |x| {
                let shade = if (x / 25 + y / 25) % 2 == 0 { 30 } else { -30 };
                colour.map(|c| clamp(c + shade))
            })
        })
        .collect()
}

fn jpeg(rgb: &[u8], width: u32, height: u32, orientation: Option<u16>) -> Vec<u8> {
    encode_jpeg(rgb, (width, height), 90, None, orientation)
}

/// Sensor-like noise and JPEG quality of the camera-sized sample: together they give it a
/// camera photo's weight (about 6 MB for 24 MP) and its cost to decode.
const NOISE: i32 = 9;
const QUALITY: u8 = 92;

/// Encoded as cameras encode: high quality, chroma at half resolution both ways (4:2:0).
fn camera_jpeg(rgb: &[u8], width: u32, height: u32) -> Vec<u8> {
    let sampling = Some(jpeg_encoder::SamplingFactor::F_2_2);
    encode_jpeg(rgb, (width, height), QUALITY, sampling, None)
}

fn encode_jpeg(
    rgb: &[u8],
    (width, height): (u32, u32),
    quality: u8,
    sampling: Option<jpeg_encoder::SamplingFactor>,
    orientation: Option<u16>,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, quality);
    if let Some(sampling) = sampling {
        encoder.set_sampling_factor(sampling);
    }
    if let Some(orientation) = orientation {
        encoder
            .add_exif_metadata(&exif_orientation(orientation))
            .unwrap();
    }
    encoder
        .encode(
            rgb,
            width as u16,
            height as u16,
            jpeg_encoder::ColorType::Rgb,
        )
        .unwrap();
    out
}

/// A big-endian TIFF header with one IFD entry: Orientation (0x0112), SHORT, 1 value.
fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff
}

/// The portrait as RGBA PNG, its corners transparent as a cut-out's would be.
fn png_with_transparent_corners(width: u32, height: u32) -> Vec<u8> {
    let rgb = portrait(width, height, 0);
    let corner = width.min(height) / 8;
    let rgba: Vec<u8> = rgb
        .chunks_exact(3)
        .enumerate()
        .flat_map(|(i, px)| {
            let (x, y) = (i as u32 % width, i as u32 / width);
            let near = |v: u32, side: u32| v < corner || v >= side - corner;
            let alpha = if near(x, width) && near(y, height) {
                0
            } else {
                255
            };
            [px[0], px[1], px[2], alpha]
        })
        .collect();
    let mut out = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut out),
        &rgba,
        width,
        height,
        image::ExtendedColorType::Rgba8,
    )
    .unwrap();
    out
}

#[test]
fn samples_are_what_their_names_say() {
    for name in NAMES {
        // Judged by the server's own decoder, which is what the uploads meet.
        let decoded = boothgate::imaging::thumbnail(&sample(name));
        match name {
            "truncated.jpg" | "not-an-image.jpg" => assert!(decoded.is_err(), "{name}"),
            _ => assert!(decoded.is_ok(), "{name}"),
        }
    }
    let big = sample("guest-6000x4000.jpg");
    assert!(big.len() > 3_000_000, "camera-sized: {} bytes", big.len());
    let rotated = sample("guest-exif-rotated.jpg");
    let mut decoder = image::ImageReader::new(std::io::Cursor::new(&rotated))
        .with_guessed_format()
        .unwrap()
        .into_decoder()
        .unwrap();
    assert_eq!(
        image::ImageDecoder::orientation(&mut decoder).unwrap(),
        image::metadata::Orientation::Rotate90
    );
}

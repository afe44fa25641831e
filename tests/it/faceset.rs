//! A labelled set for the result checks, made from public-domain and CC0 photos kept in the
//! repository: scikit-image's `astronaut` (Eileen Collins, NASA, public domain) and `camera`
//! (CC0, Lav Varshney), and matplotlib's `grace_hopper` (U.S. Navy, public domain), tiled into
//! groups of one to five and scaled, shifted, blurred, colour-graded and re-compressed; and
//! scikit-image's `chelsea` (a cat) and `coffee` (a cup), both CC0, with no face at all.
//!
//! Shared by the accuracy tests and `examples/checks.rs`, which prints the same figures.

#![allow(dead_code)]

use boothgate::{checks, imaging};
use image::{DynamicImage, Rgb, RgbImage, imageops};

const ASTRONAUT: &[u8] = include_bytes!("../../static/sample-astronaut.jpg");
const HOPPER: &[u8] = include_bytes!("../photos/grace-hopper.jpg");
const CAMERAMAN: &[u8] = include_bytes!("../photos/cameraman.jpg");
const CAT: &[u8] = include_bytes!("../photos/chelsea-cat.jpg");
const COFFEE: &[u8] = include_bytes!("../photos/coffee.jpg");

/// The side of one person's tile in a group.
const TILE: u32 = 512;

fn decoded(bytes: &[u8]) -> RgbImage {
    image::load_from_memory(bytes)
        .expect("a photo of the set")
        .into_rgb8()
}

fn square(image: RgbImage, side: u32) -> RgbImage {
    DynamicImage::ImageRgb8(image)
        .resize_to_fill(side, side, imageops::FilterType::Triangle)
        .into_rgb8()
}

/// The three portraits, each a square tile.
pub fn portraits() -> Vec<RgbImage> {
    [ASTRONAUT, HOPPER, CAMERAMAN]
        .into_iter()
        .map(|bytes| square(decoded(bytes), TILE))
        .collect()
}

/// A photo with no face in it: the cat (0) or the cup (1).
pub fn no_face(which: usize) -> RgbImage {
    decoded(if which == 0 { CAT } else { COFFEE })
}

/// `people` portraits side by side, three to a row at most; a short row is filled with the
/// cup, as a table would be. `start` picks which portrait comes first.
pub fn group(people: usize, start: usize) -> RgbImage {
    let portraits = portraits();
    let columns = people.min(3) as u32;
    let rows = people.div_ceil(3) as u32;
    let mut canvas = RgbImage::new(columns * TILE, rows * TILE);
    let filler = square(no_face(1), TILE);
    for cell in 0..(columns * rows) as usize {
        let (x, y) = (
            (cell as u32 % columns) * TILE,
            (cell as u32 / columns) * TILE,
        );
        let tile = match cell < people {
            true => &portraits[(start + cell) % portraits.len()],
            false => &filler,
        };
        imageops::replace(&mut canvas, tile, x.into(), y.into());
    }
    canvas
}

fn map_pixels(image: &RgbImage, f: impl Fn([u8; 3]) -> [u8; 3]) -> RgbImage {
    let mut out = image.clone();
    for px in out.pixels_mut() {
        px.0 = f(px.0);
    }
    out
}

fn clamp(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// A warm grade: reds up, blues down, a little contrast.
pub fn warm(image: &RgbImage) -> RgbImage {
    map_pixels(image, |[r, g, b]| {
        let c = |v: u8, gain: f32| clamp((f32::from(v) - 128.0) * 1.1 * gain + 128.0);
        [c(r, 1.12), c(g, 1.0), c(b, 0.85)]
    })
}

/// Sepia, as the demo model draws.
pub fn sepia(image: &RgbImage) -> RgbImage {
    map_pixels(image, |[r, g, b]| {
        let (r, g, b) = (f32::from(r), f32::from(g), f32::from(b));
        [
            clamp(0.393 * r + 0.769 * g + 0.189 * b),
            clamp(0.349 * r + 0.686 * g + 0.168 * b),
            clamp(0.272 * r + 0.534 * g + 0.131 * b),
        ]
    })
}

/// Every channel brighter by `by`.
pub fn brighter(image: &RgbImage, by: f32) -> RgbImage {
    map_pixels(image, |px| px.map(|v| clamp(f32::from(v) + by)))
}

/// Few colours and strong edges, as a comic style draws.
pub fn posterized(image: &RgbImage) -> RgbImage {
    map_pixels(image, |px| px.map(|v| (v / 64) * 64 + 32))
}

pub fn blurred(image: &RgbImage, sigma: f32) -> RgbImage {
    imageops::blur(image, sigma)
}

pub fn scaled(image: &RgbImage, factor: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    let side = |s: u32| ((s as f32 * factor) as u32).max(1);
    imageops::resize(image, side(w), side(h), imageops::FilterType::Triangle)
}

/// The photo moved right and down by a twentieth, the uncovered edge a studio grey.
pub fn shifted(image: &RgbImage) -> RgbImage {
    let (w, h) = image.dimensions();
    let mut canvas = RgbImage::from_pixel(w, h, Rgb([128, 128, 128]));
    imageops::replace(&mut canvas, image, (w / 20).into(), (h / 20).into());
    canvas
}

/// The group with one person's tile replaced by the cup: a person cut out.
pub fn one_cut_out(image: &RgbImage) -> RgbImage {
    let mut out = image.clone();
    let filler = square(no_face(1), TILE);
    imageops::replace(&mut out, &filler, 0, 0);
    out
}

/// The group with its first person's face changed for the face of portrait `donor` (not the
/// first person's own): a face swap's visible edit.
pub fn face_swapped(image: &RgbImage, donor: usize) -> RgbImage {
    let mut out = image.clone();
    let other = &portraits()[donor];
    let face = imageops::crop_imm(other, 150, 100, 220, 260).to_image();
    imageops::replace(&mut out, &face, 150, 100);
    out
}

pub fn jpeg(image: &RgbImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    image.write_with_encoder(encoder).expect("encodes");
    out
}

/// A labelled image for counting faces.
pub struct Counted {
    pub name: String,
    pub jpeg: Vec<u8>,
    pub faces: u32,
}

/// Groups of 1–5 in six versions each, with each portrait first in turn, and the two photos
/// without a face in the same versions.
pub fn counting_set() -> Vec<Counted> {
    let mut set = Vec::new();
    let mut add = |name: String, image: RgbImage, faces: u32| {
        for (version, changed) in versions(&image) {
            set.push(Counted {
                name: format!("{name} {version}"),
                jpeg: jpeg(&changed, 90),
                faces,
            });
        }
    };
    for people in 1..=5 {
        for start in 0..3 {
            add(
                format!("group of {people} from {start}"),
                group(people, start),
                people as u32,
            );
        }
    }
    for which in 0..2 {
        add(format!("no face {which}"), no_face(which), 0);
    }
    set
}

/// How many versions of each photo the counting set holds, the photo as it is first.
const VERSIONS: usize = 7;

/// The versions a photo is counted in.
fn versions(image: &RgbImage) -> Vec<(&'static str, RgbImage)> {
    vec![
        ("as is", image.clone()),
        ("scaled ×0.6", scaled(image, 0.6)),
        ("scaled ×1.5", scaled(image, 1.5)),
        ("shifted", shifted(image)),
        ("blurred", blurred(image, 1.5)),
        ("warm grade", warm(image)),
        ("re-compressed", decoded(&jpeg(image, 40))),
    ]
}

/// The model input side the server prepares guest photos at.
const MODEL_SIDE: u32 = 2048;

/// A photo's reduced copies, as the server makes them of a guest photo.
pub fn glance(jpeg: &[u8]) -> imaging::Glance {
    imaging::prepare_input(jpeg, MODEL_SIDE)
        .expect("decodes")
        .glance
}

/// Faces in a guest photo, counted as the server counts them.
pub fn guest_faces(jpeg: &[u8]) -> u32 {
    checks::faces::count(&glance(jpeg))
}

/// Faces in a result as the server counts them: a closer look when fewer than `needed`.
pub fn result_faces(jpeg: &[u8], needed: u32) -> u32 {
    let decoded = imaging::decode_answer(jpeg, (6000, 4000), MODEL_SIDE).expect("decodes");
    let closer = || decoded.closer_glance().ok();
    checks::count_people(&decoded.glance().expect("reduces"), needed, closer)
}

/// On how many correct results "people missing" is raised, of how many: every version of a
/// group is a correct result for the group as it is.
pub fn false_missing(set: &[Counted]) -> (usize, usize) {
    let (mut raised, mut results) = (0, 0);
    for versions in set.chunks(VERSIONS) {
        let guest = guest_faces(&versions[0].jpeg);
        for result in &versions[1..] {
            results += 1;
            raised += usize::from(result_faces(&result.jpeg, guest) < guest);
        }
    }
    (raised, results)
}

/// A guest photo and a result, and whether the result is the guest photo handed back.
pub struct Pair {
    pub name: String,
    pub guest: Vec<u8>,
    pub result: Vec<u8>,
    pub unchanged: bool,
}

/// Each group handed back (re-compressed, rescaled, slightly blurred) and edited (graded,
/// sepia, brighter, posterized, a face swapped, a person cut out).
pub fn unchanged_set() -> Vec<Pair> {
    let mut set = Vec::new();
    for people in 1..=5 {
        let guest_image = group(people, people % 3);
        let guest = jpeg(&guest_image, 90);
        let mut add = |what: &str, result: RgbImage, quality: u8, unchanged: bool| {
            set.push(Pair {
                name: format!("group of {people}: {what}"),
                guest: guest.clone(),
                result: jpeg(&result, quality),
                unchanged,
            });
        };
        add("handed back", guest_image.clone(), 90, true);
        add("handed back at quality 60", guest_image.clone(), 60, true);
        add(
            "handed back at half size",
            scaled(&guest_image, 0.5),
            85,
            true,
        );
        add(
            "handed back at 1024 px",
            scaled(&guest_image, 1024.0 / guest_image.width() as f32),
            80,
            true,
        );
        add("handed back softened", blurred(&guest_image, 0.8), 90, true);
        add("warm grade", warm(&guest_image), 90, false);
        add("sepia", sepia(&guest_image), 90, false);
        add("brighter by 15", brighter(&guest_image, 15.0), 90, false);
        add("posterized", posterized(&guest_image), 90, false);
        add(
            "a face swapped",
            face_swapped(&guest_image, (people + 1) % 3),
            90,
            false,
        );
        if people > 1 {
            add("a person cut out", one_cut_out(&guest_image), 90, false);
        }
    }
    set
}

/// An image and whether it is blank.
pub struct Frame {
    pub name: String,
    pub jpeg: Vec<u8>,
    pub blank: bool,
}

/// One-colour and black frames (with sensor noise), and photos that are not blank: the groups,
/// a dark one, the cup.
pub fn blank_set() -> Vec<Frame> {
    let mut set = Vec::new();
    let mut noise = 0x2545_F491_u32;
    let mut noisy = |base: [u8; 3], amplitude: u32| {
        let mut image = RgbImage::from_pixel(1024, 768, Rgb(base));
        for px in image.pixels_mut() {
            for c in px.0.iter_mut() {
                noise ^= noise << 13;
                noise ^= noise >> 17;
                noise ^= noise << 5;
                let delta = (noise % (2 * amplitude + 1)) as i32 - amplitude as i32;
                *c = (i32::from(*c) + delta).clamp(0, 255) as u8;
            }
        }
        image
    };
    for (name, base, amplitude) in [
        ("white", [255, 255, 255], 0),
        ("grey", [128, 128, 128], 6),
        ("black", [0, 0, 0], 0),
        ("near-black with noise", [8, 8, 10], 8),
        ("studio blue with noise", [40, 90, 200], 12),
    ] {
        set.push(Frame {
            name: name.into(),
            jpeg: jpeg(&noisy(base, amplitude), 85),
            blank: true,
        });
    }
    for people in 1..=5 {
        let image = group(people, 0);
        set.push(Frame {
            name: format!("group of {people}"),
            jpeg: jpeg(&image, 90),
            blank: false,
        });
        set.push(Frame {
            name: format!("group of {people}, dark"),
            jpeg: jpeg(&brighter(&image, -70.0), 90),
            blank: false,
        });
    }
    set.push(Frame {
        name: "the cup".into(),
        jpeg: jpeg(&no_face(1), 90),
        blank: false,
    });
    set
}

//! Orbit camera: left drag orbits, right or middle drag pans, the wheel zooms towards the
//! target; keys T (top), S (side), R (reset), arrows (pan), +/- (zoom). Bevy is y-up; the
//! data's z (up) maps to bevy's y (see `Viewer::layer_transform`).

use super::Viewer;
use bevy::input::mouse::{AccumulatedMouseMotion, AccumulatedMouseScroll, MouseScrollUnit};
use bevy::prelude::*;
use bevy_egui::input::EguiWantsInput;

#[derive(Component, Clone, Copy, Debug)]
pub struct OrbitCamera {
    pub target: Vec3,
    /// Radians around bevy's y axis; 0 looks north (towards -z).
    pub yaw: f32,
    /// Radians above the horizon (positive looks down).
    pub pitch: f32,
    pub distance: f32,
}

impl Default for OrbitCamera {
    fn default() -> Self {
        OrbitCamera {
            target: Vec3::ZERO,
            yaw: -0.5,
            pitch: 0.6,
            distance: 100.0,
        }
    }
}

impl OrbitCamera {
    pub fn eye(&self) -> Vec3 {
        let (sy, cy) = self.yaw.sin_cos();
        let (sp, cp) = self.pitch.sin_cos();
        self.target + self.distance * Vec3::new(cp * sy, sp, cp * cy)
    }

    pub fn transform(&self) -> Transform {
        let eye = self.eye();
        // Straight down: look_at needs an up vector that is not parallel to the view.
        let up = if self.pitch.abs() > 1.5 {
            Vec3::NEG_Z
        } else {
            Vec3::Y
        };
        Transform::from_translation(eye).looking_at(self.target, up)
    }

    /// Frames a bevy-space box from the current direction.
    pub fn frame(&mut self, min: Vec3, max: Vec3, fov_y: f32) {
        self.target = (min + max) * 0.5;
        let radius = ((max - min).length() * 0.5).max(1.0);
        // The bounding sphere is conservative for flat sites: 0.8 fills the view better.
        self.distance = radius / (fov_y * 0.5).tan() * 0.8;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Preset {
    Top,
    Side,
    #[default]
    Reset,
}

pub fn apply_preset(
    cam: &mut OrbitCamera,
    preset: Preset,
    bounds: Option<(Vec3, Vec3)>,
    fov_y: f32,
) {
    match preset {
        Preset::Top => {
            cam.yaw = 0.0;
            cam.pitch = std::f32::consts::FRAC_PI_2 - 1e-3;
        }
        Preset::Side => {
            cam.yaw = 0.0;
            cam.pitch = 0.0;
        }
        Preset::Reset => {
            cam.yaw = -0.5;
            cam.pitch = 0.6;
        }
    }
    if let Some((lo, hi)) = bounds {
        cam.frame(lo, hi, fov_y);
    }
}

/// Mouse and keyboard to camera, unless egui is using them.
#[allow(clippy::too_many_arguments)]
pub fn control(
    mut q: Query<(&mut OrbitCamera, &mut Transform, &mut Projection)>,
    buttons: Res<ButtonInput<MouseButton>>,
    keys: Res<ButtonInput<KeyCode>>,
    motion: Res<AccumulatedMouseMotion>,
    scroll: Res<AccumulatedMouseScroll>,
    egui: Res<EguiWantsInput>,
    time: Res<Time>,
    mut viewer: ResMut<Viewer>,
    windows: Query<&Window>,
) {
    let Ok((mut cam, mut tf, mut proj)) = q.single_mut() else {
        return;
    };
    // The panels are egui UI but not egui "areas": the pointer counts as in the 3D view only
    // inside the rectangle the panels leave.
    let in_view = match (
        windows
            .single()
            .ok()
            .and_then(|w| w.physical_cursor_position()),
        viewer.view_rect,
    ) {
        (Some(p), Some(r)) => r.contains(p),
        _ => false,
    };
    let fov = match &*proj {
        Projection::Perspective(p) => p.fov,
        _ => 0.8,
    };
    let pointer_free = in_view && !egui.wants_pointer_input() && !egui.is_pointer_over_area();
    let keys_free = !egui.wants_keyboard_input();
    let d = motion.delta;
    // A drag that started in the 3D view keeps going even over a panel.
    let dragging = viewer.drag_in_view
        && (buttons.pressed(MouseButton::Left)
            || buttons.pressed(MouseButton::Right)
            || buttons.pressed(MouseButton::Middle));
    if buttons.any_just_pressed([MouseButton::Left, MouseButton::Right, MouseButton::Middle]) {
        viewer.drag_in_view = pointer_free;
        viewer.drag_px = 0.0;
    }
    if dragging {
        viewer.drag_px += d.length();
        if buttons.pressed(MouseButton::Left) {
            cam.yaw -= d.x * 0.005;
            cam.pitch = (cam.pitch + d.y * 0.005).clamp(-1.55, std::f32::consts::FRAC_PI_2 - 1e-3);
        } else {
            let step = d * cam.distance * 0.0015;
            pan(&mut cam, tf.as_ref(), step);
        }
    }
    if pointer_free && scroll.delta.y != 0.0 {
        let lines = match scroll.unit {
            MouseScrollUnit::Line => scroll.delta.y,
            MouseScrollUnit::Pixel => scroll.delta.y / 40.0,
        };
        cam.distance = (cam.distance * 0.88f32.powf(lines)).clamp(0.05, 1e7);
    }
    if keys_free {
        let dt = time.delta_secs().min(0.1);
        let mut k = Vec2::ZERO;
        if keys.pressed(KeyCode::ArrowLeft) {
            k.x += 1.0;
        }
        if keys.pressed(KeyCode::ArrowRight) {
            k.x -= 1.0;
        }
        if keys.pressed(KeyCode::ArrowUp) {
            k.y += 1.0;
        }
        if keys.pressed(KeyCode::ArrowDown) {
            k.y -= 1.0;
        }
        if k != Vec2::ZERO {
            let step = k * cam.distance * dt * 0.8;
            pan(&mut cam, tf.as_ref(), step);
        }
        if keys.pressed(KeyCode::Equal) || keys.pressed(KeyCode::NumpadAdd) {
            cam.distance *= 1.0 - dt;
        }
        if keys.pressed(KeyCode::Minus) || keys.pressed(KeyCode::NumpadSubtract) {
            cam.distance *= 1.0 + dt;
        }
        let preset = if keys.just_pressed(KeyCode::KeyT) {
            Some(Preset::Top)
        } else if keys.just_pressed(KeyCode::KeyS) {
            Some(Preset::Side)
        } else if keys.just_pressed(KeyCode::KeyR) {
            Some(Preset::Reset)
        } else {
            None
        };
        if let Some(p) = preset {
            let b = viewer.scene_bounds();
            apply_preset(&mut cam, p, b, fov);
        }
    }
    if let Some(p) = viewer.preset_request.take() {
        let b = viewer.scene_bounds();
        apply_preset(&mut cam, p, b, fov);
    }
    if let Some(t) = viewer.focus_request.take() {
        cam.target = t;
        cam.distance = (cam.distance * 0.5).max(1.0);
    }
    let new_tf = cam.transform();
    if *tf != new_tf {
        *tf = new_tf;
    }
    // Near plane follows the distance so close-ups and whole sites both keep depth precision.
    if let Projection::Perspective(p) = proj.as_mut() {
        let near = (cam.distance * 0.002).clamp(0.01, 10.0);
        if (p.near - near).abs() > near * 0.25 {
            p.near = near;
        }
        p.far = (cam.distance * 50.0).max(1000.0);
    }
}

/// Moves the target in the view plane: screen right and screen up (or forward on the ground
/// when looking down).
fn pan(cam: &mut OrbitCamera, tf: &Transform, d: Vec2) {
    let right = tf.right().as_vec3();
    let up = tf.up().as_vec3();
    cam.target += -right * d.x + up * d.y;
}

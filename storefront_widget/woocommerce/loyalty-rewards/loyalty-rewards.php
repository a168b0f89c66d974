<?php
/**
 * Plugin Name: Loyalty Rewards
 * Description: Points, rewards and referral codes for WooCommerce, from the open-source Loyalty app. Connects the store, shows the rewards widget, and adds "Rewards" to My Account.
 * Version: 1.0.0
 * Requires at least: 6.3
 * Requires PHP: 7.4
 * License: MIT
 * Text Domain: loyalty-rewards
 *
 * @package LoyaltyRewards
 */

defined( 'ABSPATH' ) || exit;

require_once __DIR__ . '/includes/class-loyalty-token.php';
require_once __DIR__ . '/includes/class-loyalty-referral.php';

const LOYALTY_OPTION_APP_URL    = 'loyalty_app_url';
const LOYALTY_OPTION_SECRET_KEY = 'loyalty_token_secret_key';
const LOYALTY_OPTION_PUBLIC_KEY = 'loyalty_token_public_key';

/** The store's own key pair: made once, the secret half never leaves this site. */
function loyalty_ensure_keys() {
	if ( get_option( LOYALTY_OPTION_SECRET_KEY ) && get_option( LOYALTY_OPTION_PUBLIC_KEY ) ) {
		return;
	}
	list( $secret, $public ) = Loyalty_Token::keypair();
	update_option( LOYALTY_OPTION_SECRET_KEY, $secret, false );
	update_option( LOYALTY_OPTION_PUBLIC_KEY, $public, false );
}
register_activation_hook( __FILE__, 'loyalty_ensure_keys' );

function loyalty_app_url() {
	return untrailingslashit( (string) get_option( LOYALTY_OPTION_APP_URL, '' ) );
}

/** The URL the app knows this store by (what WooCommerce puts in X-WC-Webhook-Source). */
function loyalty_store_url() {
	return untrailingslashit( home_url() );
}

/** A shopper token for whoever is signed in now (a guest's when no one is). */
function loyalty_shopper_token() {
	loyalty_ensure_keys();
	$customer = is_user_logged_in() ? (string) get_current_user_id() : null;
	return Loyalty_Token::sign( loyalty_store_url(), $customer, get_option( LOYALTY_OPTION_SECRET_KEY ) );
}

/*
 * The REST routes: the public key, for the app to fetch when the store connects (it checks
 * the shopper tokens this store signs); and a fresh shopper token for a signed-in customer
 * whose page outlived the one it was drawn with (the widget asks once on an expired-token
 * answer, then retries). The token route takes the "wp_rest" nonce the page carries, in
 * X-WP-Nonce: without it WordPress treats a cookie-authenticated call as logged out, and
 * the check below refuses it too, so another site cannot have a visitor's browser fetch a
 * token for it.
 */
add_action(
	'rest_api_init',
	function () {
		register_rest_route(
			'loyalty/v1',
			'/public-key',
			array(
				'methods'             => 'GET',
				'permission_callback' => '__return_true',
				'callback'            => function () {
					loyalty_ensure_keys();
					return array( 'public_key' => get_option( LOYALTY_OPTION_PUBLIC_KEY ) );
				},
			)
		);
		register_rest_route(
			'loyalty/v1',
			'/shopper-token',
			array(
				'methods'             => 'POST',
				'permission_callback' => function ( $request ) {
					if ( ! wp_verify_nonce( (string) $request->get_header( 'X-WP-Nonce' ), 'wp_rest' ) ) {
						return new WP_Error( 'loyalty_bad_nonce', __( 'Reload the page to continue.', 'loyalty-rewards' ), array( 'status' => 403 ) );
					}
					if ( ! is_user_logged_in() ) {
						return new WP_Error( 'loyalty_signed_out', __( 'Sign in to see your rewards.', 'loyalty-rewards' ), array( 'status' => 401 ) );
					}
					return true;
				},
				'callback'            => function () {
					$response = new WP_REST_Response( array( 'token' => loyalty_shopper_token() ), 200 );
					$response->header( 'Cache-Control', 'no-store, private' );
					return $response;
				},
			)
		);
	}
);

/* Settings → Loyalty: the app's address and the Connect button (starts /wc-auth). */
add_action(
	'admin_menu',
	function () {
		add_options_page( 'Loyalty', 'Loyalty', 'manage_woocommerce', 'loyalty-rewards', 'loyalty_settings_page' );
	}
);

add_action(
	'admin_init',
	function () {
		register_setting(
			'loyalty-rewards',
			LOYALTY_OPTION_APP_URL,
			array(
				'type'              => 'string',
				'sanitize_callback' => function ( $value ) {
					$value = esc_url_raw( trim( (string) $value ) );
					return ( 0 === strpos( $value, 'https://' ) || ( defined( 'WP_DEBUG' ) && WP_DEBUG ) ) ? $value : '';
				},
			)
		);
	}
);

function loyalty_settings_page() {
	if ( ! current_user_can( 'manage_woocommerce' ) ) {
		return;
	}
	$app     = loyalty_app_url();
	$connect = $app ? $app . '/auth/woocommerce?' . http_build_query( array( 'store_url' => loyalty_store_url() ) ) : '';
	echo '<div class="wrap"><h1>' . esc_html__( 'Loyalty', 'loyalty-rewards' ) . '</h1>';
	echo '<form method="post" action="options.php">';
	settings_fields( 'loyalty-rewards' );
	echo '<p><label for="loyalty_app_url">' . esc_html__( 'App URL', 'loyalty-rewards' ) . '</label> ';
	echo '<input class="regular-text" type="url" id="loyalty_app_url" name="' . esc_attr( LOYALTY_OPTION_APP_URL ) . '" value="' . esc_attr( $app ) . '" placeholder="https://loyalty.example.com"></p>';
	submit_button();
	echo '</form>';
	if ( $connect ) {
		echo '<p><a class="button button-primary" href="' . esc_url( $connect ) . '">' . esc_html__( 'Connect this store', 'loyalty-rewards' ) . '</a></p>';
		// The link is signed when clicked (it lives two minutes), not when this page is drawn.
		$open = wp_nonce_url( admin_url( 'admin-post.php?action=loyalty_open_admin' ), 'loyalty_open_admin' );
		echo '<p><a class="button" href="' . esc_url( $open ) . '">' . esc_html__( 'Open the Loyalty admin', 'loyalty-rewards' ) . '</a></p>';
	}
	echo '</div>';
}

/* Settings → Loyalty → "Open the Loyalty admin": a fresh single-use signed link. */
add_action(
	'admin_post_loyalty_open_admin',
	function () {
		if ( ! current_user_can( 'manage_woocommerce' ) ) {
			wp_die( esc_html__( 'You are not allowed to manage the loyalty program.', 'loyalty-rewards' ), 403 );
		}
		check_admin_referer( 'loyalty_open_admin' );
		$app = loyalty_app_url();
		if ( ! $app ) {
			wp_die( esc_html__( 'Set the App URL first.', 'loyalty-rewards' ), 400 );
		}
		loyalty_ensure_keys();
		$token = Loyalty_Token::sign_admin(
			loyalty_store_url(),
			(string) get_current_user_id(),
			get_option( LOYALTY_OPTION_SECRET_KEY ),
			substr( get_user_locale(), 0, 2 )
		);
		// The app's own address, not this site's: wp_safe_redirect would refuse it.
		wp_redirect( $app . '/admin/auth/woocommerce?token=' . rawurlencode( $token ) ); // phpcs:ignore WordPress.Security.SafeRedirect.wp_redirect_wp_redirect
		exit;
	}
);

/* The widget: one deferred loader script, and its config with a token for this shopper. */
add_action(
	'wp_enqueue_scripts',
	function () {
		$app = loyalty_app_url();
		if ( ! $app || is_admin() ) {
			return;
		}
		loyalty_ensure_keys();
		wp_enqueue_script(
			'loyalty-loader',
			$app . '/storefront/v1/assets/loader.js',
			array(),
			'1',
			array(
				'strategy'  => 'defer',
				'in_footer' => true,
			)
		);
		$config = array(
			'api'    => $app . '/storefront/v1',
			'shop'   => loyalty_store_url(),
			'token'  => loyalty_shopper_token(),
			'locale' => substr( determine_locale(), 0, 2 ),
			'signIn' => wc_get_page_permalink( 'myaccount' ),
			'join'   => wc_get_page_permalink( 'myaccount' ),
			'apply'  => add_query_arg( 'loyalty_coupon', '{code}', wc_get_cart_url() ),
		);
		if ( is_user_logged_in() ) {
			// Where the widget gets a new token when this one expires, same origin.
			$config['refresh'] = rest_url( 'loyalty/v1/shopper-token' );
			$config['nonce']   = wp_create_nonce( 'wp_rest' );
		}
		wp_add_inline_script( 'loyalty-loader', 'window.LoyaltyConfig = ' . wp_json_encode( $config ) . ';', 'before' );
	}
);

/* One-click apply: /cart/?loyalty_coupon=CODE puts the code in the cart. */
add_action(
	'template_redirect',
	function () {
		if ( empty( $_GET['loyalty_coupon'] ) || ! function_exists( 'WC' ) || ! WC()->cart ) { // phpcs:ignore WordPress.Security.NonceVerification.Recommended
			return;
		}
		$code = wc_format_coupon_code( wp_unslash( $_GET['loyalty_coupon'] ) ); // phpcs:ignore WordPress.Security.NonceVerification.Recommended, WordPress.Security.ValidatedSanitizedInput.InputNotSanitized
		if ( $code && ! WC()->cart->has_discount( $code ) ) {
			WC()->cart->apply_coupon( $code );
		}
	}
);

/*
 * Referral links (?ref=CODE): remembered in a cookie for 30 days, then written on the order
 * as its `loyalty_referral` meta at checkout (classic and block checkout), where the app
 * finds it in the order webhook.
 */
add_action(
	'init',
	function () {
		$code = Loyalty_Referral::from_link( $_GET ); // phpcs:ignore WordPress.Security.NonceVerification.Recommended
		if ( null === $code || headers_sent() || is_admin() ) {
			return;
		}
		$options = Loyalty_Referral::cookie_options( time(), is_ssl(), COOKIEPATH, COOKIE_DOMAIN );
		setcookie( Loyalty_Referral::COOKIE, $code, $options );
		$_COOKIE[ Loyalty_Referral::COOKIE ] = $code; // this request's order too
	}
);

add_action(
	'woocommerce_checkout_create_order',
	function ( $order ) {
		Loyalty_Referral::tag_order( $order, $_COOKIE );
	}
);

add_action(
	'woocommerce_store_api_checkout_update_order_from_request',
	function ( $order ) {
		if ( Loyalty_Referral::tag_order( $order, $_COOKIE ) ) {
			$order->save();
		}
	}
);

/* My Account → Rewards. */
add_action(
	'init',
	function () {
		add_rewrite_endpoint( 'rewards', EP_ROOT | EP_PAGES );
	}
);

add_filter(
	'woocommerce_account_menu_items',
	function ( $items ) {
		$logout = isset( $items['customer-logout'] ) ? array( 'customer-logout' => $items['customer-logout'] ) : array();
		unset( $items['customer-logout'] );
		return $items + array( 'rewards' => __( 'Rewards', 'loyalty-rewards' ) ) + $logout;
	}
);

add_action(
	'woocommerce_account_rewards_endpoint',
	function () {
		echo '<h2>' . esc_html__( 'Rewards', 'loyalty-rewards' ) . '</h2>';
		echo '<p>' . esc_html__( 'Your points, rewards and codes.', 'loyalty-rewards' ) . '</p>';
		echo '<p><button type="button" class="button" onclick="var l=document.getElementById(\'loyalty-launcher\');if(l){l.click();}">' . esc_html__( 'Open my rewards', 'loyalty-rewards' ) . '</button></p>';
	}
);

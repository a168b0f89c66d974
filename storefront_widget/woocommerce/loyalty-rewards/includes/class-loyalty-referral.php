<?php
/**
 * Referral attribution for WooCommerce. A friend arriving through a member's link
 * (?ref=CODE) gets a cookie; the order placed later carries the code as its
 * `loyalty_referral` meta, which the app reads from the order webhook. The friend's own
 * discount code on the order is the app's first signal; this meta is the fallback (the
 * friend ordered without the code, or on this device after claiming on another).
 *
 * Plain PHP (no WordPress calls) so it can be tested without WordPress.
 *
 * @package LoyaltyRewards
 */

/** The referral cookie and the order meta. */
final class Loyalty_Referral {
	/** The query parameter of a member's referral link. */
	const PARAM = 'ref';
	/** The cookie that remembers it, and the order meta key the app reads. */
	const COOKIE   = 'loyalty_referral';
	const META_KEY = 'loyalty_referral';
	/** How long a link is remembered (as the storefront widget does). */
	const DAYS = 30;

	/**
	 * A referral code as it may appear in a link: letters, digits and dashes, at most 40,
	 * in capitals (the app normalises further); null for anything else.
	 *
	 * @param mixed $raw The value from the URL or the cookie.
	 * @return string|null
	 */
	public static function clean_code( $raw ) {
		if ( ! is_string( $raw ) ) {
			return null;
		}
		$code = strtoupper( trim( $raw ) );
		return preg_match( '/^[A-Z0-9-]{1,40}$/', $code ) ? $code : null;
	}

	/**
	 * The code a link brings (from the query), for the caller to keep in the cookie.
	 *
	 * @param array $query The request's query parameters ($_GET).
	 * @return string|null
	 */
	public static function from_link( array $query ) {
		return isset( $query[ self::PARAM ] ) ? self::clean_code( $query[ self::PARAM ] ) : null;
	}

	/**
	 * The remembered code, if any.
	 *
	 * @param array $cookies The request's cookies ($_COOKIE).
	 * @return string|null
	 */
	public static function remembered( array $cookies ) {
		return isset( $cookies[ self::COOKIE ] ) ? self::clean_code( $cookies[ self::COOKIE ] ) : null;
	}

	/**
	 * Cookie options for setcookie(): 30 days, not readable by scripts, sent on the
	 * top-level navigation back from a payment provider (Lax).
	 *
	 * @param int    $now    Unix time.
	 * @param bool   $secure Whether the store is served over HTTPS.
	 * @param string $path   The site's cookie path.
	 * @param string $domain The site's cookie domain.
	 * @return array
	 */
	public static function cookie_options( $now, $secure, $path = '/', $domain = '' ) {
		return array(
			'expires'  => $now + self::DAYS * 86400,
			'path'     => $path ? $path : '/',
			'domain'   => (string) $domain,
			'secure'   => (bool) $secure,
			'httponly' => true,
			'samesite' => 'Lax',
		);
	}

	/**
	 * Put the remembered code on an order being created (a WC_Order, not yet saved: the
	 * checkout saves it). An order that already has one keeps it.
	 *
	 * @param object $order   The order (update_meta_data, get_meta).
	 * @param array  $cookies The request's cookies.
	 * @return bool Whether the order was tagged.
	 */
	public static function tag_order( $order, array $cookies ) {
		$code = self::remembered( $cookies );
		if ( null === $code || $order->get_meta( self::META_KEY ) ) {
			return false;
		}
		$order->update_meta_data( self::META_KEY, $code );
		return true;
	}
}

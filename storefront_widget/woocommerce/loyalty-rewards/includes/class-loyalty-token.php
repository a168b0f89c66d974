<?php
/**
 * Short-lived shopper tokens for the Loyalty storefront API: JWTs signed with Ed25519
 * (alg "EdDSA") by this store's private key. The app checks them with the public key it
 * fetched from this store when the store was connected. No WordPress dependency, so the
 * signing can be tested on its own.
 *
 * @package LoyaltyRewards
 */

if ( ! defined( 'LOYALTY_TOKEN_AUDIENCE' ) ) {
	define( 'LOYALTY_TOKEN_AUDIENCE', 'loyalty-storefront' );
}

final class Loyalty_Token {

	/** A new key pair: [secret key, public key], both base64url without padding. */
	public static function keypair() {
		$pair = sodium_crypto_sign_keypair();
		return array(
			self::b64( sodium_crypto_sign_secretkey( $pair ) ),
			self::b64( sodium_crypto_sign_publickey( $pair ) ),
		);
	}

	/**
	 * A token for one shopper (or a guest when $customer_id is null).
	 *
	 * @param string      $store_url   This store's URL, exactly as the app knows it (iss).
	 * @param string|null $customer_id The WooCommerce customer id (sub), null for a guest.
	 * @param string      $secret_key  Base64url Ed25519 secret key.
	 * @param int         $ttl         Seconds the token lives (the app accepts at most 3600).
	 * @param int|null    $now         Unix time, for tests.
	 */
	public static function sign( $store_url, $customer_id, $secret_key, $ttl = 600, $now = null ) {
		$now    = null === $now ? time() : $now;
		$claims = array(
			'iss' => $store_url,
			'aud' => LOYALTY_TOKEN_AUDIENCE,
			'iat' => $now,
			'exp' => $now + $ttl,
		);
		if ( null !== $customer_id && '' !== $customer_id ) {
			$claims['sub'] = (string) $customer_id;
		}
		return self::signed( $claims, $secret_key );
	}

	/**
	 * A link token into the Loyalty admin app for a store manager: the same key, another
	 * audience ("loyalty-admin"), so a shopper token never opens the admin app. It lives
	 * two minutes (the app refuses more than five) and opens the app once (jti).
	 *
	 * @param string   $store_url  This store's URL, exactly as the app knows it (iss).
	 * @param string   $user_id    The WordPress user opening the app (sub).
	 * @param string   $secret_key Base64url Ed25519 secret key.
	 * @param string   $locale     Two letters: the app shows itself in this language.
	 * @param int      $ttl        Seconds the link works.
	 * @param int|null $now        Unix time, for tests.
	 */
	public static function sign_admin( $store_url, $user_id, $secret_key, $locale = 'en', $ttl = 120, $now = null ) {
		$now    = null === $now ? time() : $now;
		$claims = array(
			'iss'    => $store_url,
			'aud'    => 'loyalty-admin',
			'sub'    => (string) $user_id,
			'iat'    => $now,
			'exp'    => $now + $ttl,
			'jti'    => self::b64( random_bytes( 18 ) ),
			'locale' => substr( strtolower( (string) $locale ), 0, 2 ),
		);
		return self::signed( $claims, $secret_key );
	}

	private static function signed( $claims, $secret_key ) {
		$header  = self::b64( wp_json_encode_or_native( array( 'alg' => 'EdDSA', 'typ' => 'JWT' ) ) );
		$payload = self::b64( wp_json_encode_or_native( $claims ) );
		$input   = $header . '.' . $payload;
		$sig     = sodium_crypto_sign_detached( $input, self::unb64( $secret_key ) );
		return $input . '.' . self::b64( $sig );
	}

	public static function b64( $bytes ) {
		return rtrim( strtr( base64_encode( $bytes ), '+/', '-_' ), '=' );
	}

	public static function unb64( $text ) {
		return base64_decode( strtr( $text, '-_', '+/' ) . str_repeat( '=', ( 4 - strlen( $text ) % 4 ) % 4 ) );
	}
}

/** wp_json_encode inside WordPress, json_encode outside (tests). */
function wp_json_encode_or_native( $value ) {
	return function_exists( 'wp_json_encode' ) ? wp_json_encode( $value ) : json_encode( $value, JSON_UNESCAPED_SLASHES );
}
